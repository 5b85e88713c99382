-- PostgreSQL's 0014 makes revocations NOTIFY the other replicas. SQLite
-- serves one process, which updates its revocation cache itself: nothing
-- to do here (the number is kept so both folders stay aligned).
SELECT 1;
