-- Fails with the error reply given as ARGV[1] (e.g. "NOT_MEMBER x"), to test
-- that a script's own error codes reach callers.
return redis.error_reply(ARGV[1])
