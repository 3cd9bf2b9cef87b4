-- How far each shard of the message engine's row stream has been applied by the monitor, written
-- in the transaction of the alerts and latches it led to: a monitor that takes a shard over starts
-- right after it, so no message is applied twice or skipped.
CREATE TABLE monitor_shards (
    shard       smallint PRIMARY KEY,
    applied_seq bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The instances of each role alive (seen within seconds): monitors share the shards among those.
CREATE TABLE cluster_members (
    role       text NOT NULL,
    instance   text NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role, instance)
);
