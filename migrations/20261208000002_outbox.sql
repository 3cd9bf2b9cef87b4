-- Committed batches waiting to be published to the message engine (only when one is configured):
-- written in the transaction that stores the rows, deleted once the engine has them.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    parcels    bytea NOT NULL
);
