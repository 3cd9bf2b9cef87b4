-- How many positions each ingest node acknowledged, reported every few seconds, so that any
-- instance can show the fleet's positions per second without scanning the positions.
CREATE TABLE ingest_throughput (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node        text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    positions   bigint NOT NULL CHECK (positions >= 0),
    -- The span the count covers, from the node's previous report.
    seconds     double precision NOT NULL CHECK (seconds > 0)
);
CREATE INDEX ingest_throughput_at ON ingest_throughput (at);
