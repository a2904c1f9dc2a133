"""newsmon's use cases as plain functions: settings (and a store) in, typed outcomes out.

    pipeline.run(settings, command="run")         crawl → enrich → index → alert under one lock
    stages.crawl / enrich / index / alert         the four stage entry points (no lock, no record)
    outcome                                       StageOutcome, RunOutcome, exit codes
    failures                                      busy/corrupt/full/read-only → exit code
    settings, lock, progress, schedule            settings loading, the run lock, progress, cron
    search, searchtext, indexing                  search over a backend, query text, indexing
    status, export, starter, alerting             `status`, `export`, `init`, `alert` use cases

The click command modules (newsmon/cli/commands/) only parse, call these and print.
"""
