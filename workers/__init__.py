"""RQ job functions, one module per queue (media, analysis, migration, maintenance), and the
worker entry point. Jobs are plain functions taking ids, enqueued by dotted path through
talentreel.server.jobs.enqueue, and wrapped by base.job so the database tracks their state."""
