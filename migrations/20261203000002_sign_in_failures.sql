-- Failed sign-ins, counted by account and by source address so that guessing is slowed with
-- growing delays (backoffice/src/system/throttle.rs) instead of locking the account: a stranger
-- who knows a user name can no longer lock its owner out. Kept a day; a successful sign-in clears
-- the account's.
CREATE TABLE sign_in_failures (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- As typed, lower-cased: names that do not exist count too.
    username    text NOT NULL,
    -- The client address; '' when unknown.
    source      text NOT NULL
);
CREATE INDEX sign_in_failures_username ON sign_in_failures (username, at);
CREATE INDEX sign_in_failures_source ON sign_in_failures (source, at);
