// Every test process runs in UTC, like the services it talks to.
process.env.TZ = 'UTC';
