"""Workers on procrastinate's job queue in the PostgreSQL store's database (`newsmon worker`):
the App and its tasks (app), the jobs and their locks (jobs), crawl shards by registrable
domain (shards), a crawl job's Scrapy process (crawlproc), the recorded stage a job runs
(stage) and the worker's start (run)."""
