"""newsmon's use cases as plain functions: settings (and a store) in, typed outcomes out.

    newsmon.app.pipeline.run(settings, command="run")    crawl → enrich … under one lock
    newsmon.app.stages.crawl / enrich(settings, store)   one stage, no lock, no run record
    newsmon.app.outcome                                  StageOutcome, RunOutcome, exit codes
    newsmon.app.failures                                 busy/corrupt/full/read-only → exit code

The click command modules (newsmon/cli/commands/) only parse, call these and print.
"""
