-- PostgreSQL's 0016 makes key changes NOTIFY the other replicas. SQLite
-- serves one process, which reloads its own keys: nothing to do here (the
-- number is kept so both folders stay aligned).
SELECT 1;
