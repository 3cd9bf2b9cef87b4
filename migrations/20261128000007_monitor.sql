-- The risk monitor: rule thresholds (versioned, scoped), places it watches (geofences and risk
-- locations), the alerts it raises with their history, the collection and repossession tasks made
-- from them, and commands sent to devices.

-- A rule's settings at one scope. Editing inserts a new version; the latest version of each
-- (rule, scope, scope_id) is in force. The most specific scope wins: contract, then product,
-- then the nearest region up the tree, then global.
CREATE TABLE monitor_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        text NOT NULL,
    scope       text NOT NULL CHECK (scope IN ('global', 'region', 'product', 'contract')),
    -- The region, product or contract; 0 for global.
    scope_id    bigint NOT NULL DEFAULT 0,
    version     integer NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    -- Only the thresholds this scope sets; the rest come from wider scopes.
    params      jsonb NOT NULL DEFAULT '{}',
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rule, scope, scope_id, version),
    CHECK ((scope = 'global') = (scope_id = 0))
);

-- Places a vehicle should not go to, or stay at: pawn shops, used-car markets, impound lots (二押点).
CREATE TABLE risk_locations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('pawn_shop', 'used_car_market', 'impound_lot', 'other')),
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    radius_m    integer NOT NULL CHECK (radius_m BETWEEN 10 AND 10000),
    region_id   bigint NOT NULL REFERENCES regions (id),
    active      boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Geofences: a circle or a polygon, for every vehicle, a region's vehicles or one contract's.
CREATE TABLE geofences (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    scope       text NOT NULL CHECK (scope IN ('global', 'region', 'contract')),
    scope_id    bigint NOT NULL DEFAULT 0,
    -- {"circle": {"latitude", "longitude", "radius_m"}} or {"polygon": [[lon, lat], ...]}, WGS-84.
    shape       jsonb NOT NULL,
    -- Alert on `enter`, `exit` or `both`.
    trigger     text NOT NULL CHECK (trigger IN ('enter', 'exit', 'both')),
    region_id   bigint NOT NULL REFERENCES regions (id),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'global') = (scope_id = 0))
);

-- One open alert per vehicle and rule: a repeat updates it (occurrences, last time, evidence,
-- severity) instead of raising another.
CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vehicle_id      bigint NOT NULL REFERENCES vehicles (id),
    device_id       bigint REFERENCES devices (id),
    contract_id     bigint REFERENCES contracts (id),
    region_id       bigint NOT NULL REFERENCES regions (id),
    rule            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    title           text NOT NULL,
    -- What was seen: the positions and events that fired it, and the payment status then.
    evidence        jsonb NOT NULL DEFAULT '{}',
    occurrences     integer NOT NULL DEFAULT 1,
    first_at        timestamptz NOT NULL,
    last_at         timestamptz NOT NULL,
    latitude        double precision,
    longitude       double precision,
    -- When the monitor saw the triggering row committed, for end-to-end latency.
    detected_at     timestamptz NOT NULL DEFAULT now(),
    acknowledged_by bigint REFERENCES users (id),
    acknowledged_at timestamptz,
    -- NULL with a resolved status: the monitor closed it (the condition cleared).
    resolved_by     bigint REFERENCES users (id),
    resolved_at     timestamptz,
    resolution      text,
    version         integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (vehicle_id, rule) WHERE status <> 'resolved';
CREATE INDEX alerts_status ON alerts (status, severity, last_at DESC);

CREATE TABLE alert_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (id),
    at          timestamptz NOT NULL DEFAULT now(),
    -- opened, repeated, escalated, acknowledged, resolved, closed (by the monitor)
    action      text NOT NULL,
    severity    text NOT NULL,
    user_id     bigint REFERENCES users (id),
    note        text
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

-- Collection (催收) and repossession (收车) tasks, made from alerts with their evidence.
CREATE TABLE risk_tasks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('collection', 'repossession')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'done', 'cancelled')),
    vehicle_id      bigint NOT NULL REFERENCES vehicles (id),
    contract_id     bigint REFERENCES contracts (id),
    region_id       bigint NOT NULL REFERENCES regions (id),
    alert_ids       bigint[] NOT NULL DEFAULT '{}',
    -- The last trustworthy fix, the likely night parking place and when the vehicle is there.
    evidence        jsonb NOT NULL DEFAULT '{}',
    -- The position (岗位) whose users may take it.
    position_code   text,
    assignee_id     bigint REFERENCES users (id),
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX risk_tasks_one_open ON risk_tasks (vehicle_id, kind) WHERE status IN ('open', 'assigned');

-- Commands to devices. An engine cut waits for an approved request, then for the vehicle to stand
-- still with the ignition off; a command to an offline device waits for its next session.
CREATE TABLE device_commands (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id       bigint NOT NULL REFERENCES devices (id),
    -- engine_cut, engine_restore, locate_now, set_interval
    command         text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL CHECK (status IN ('awaiting_approval', 'queued', 'waiting_stop', 'sent',
                                                    'acknowledged', 'failed', 'rejected', 'cancelled')),
    reason          text NOT NULL,
    requested_by    bigint REFERENCES users (id),
    workflow_instance_id bigint REFERENCES workflow_instances (id),
    -- The server serial / flag the device echoes in its reply.
    serial          integer,
    sent_at         timestamptz,
    acknowledged_at timestamptz,
    result          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_commands_pending ON device_commands (device_id) WHERE status IN ('queued', 'waiting_stop', 'sent');

-- The administrative division code (GB/T 2260) of a province-level region, so that the monitor
-- knows which province a contract's vehicle belongs in.
ALTER TABLE regions ADD COLUMN adcode text CHECK (adcode ~ '^[0-9]{6}$');

-- Set on alerts raised or escalated because the contract was overdue; they close themselves when
-- the contract is brought current.
ALTER TABLE alerts ADD COLUMN collection boolean NOT NULL DEFAULT false;

-- Where each vehicle usually stands at night and in the day (常驻地), learned day by day from its
-- parked fixes: one row per ~100 m cell, with the number of distinct local days seen there.
CREATE TABLE resident_places (
    vehicle_id   bigint NOT NULL REFERENCES vehicles (id),
    kind         text NOT NULL CHECK (kind IN ('night', 'day')),
    latitude     double precision NOT NULL,
    longitude    double precision NOT NULL,
    days         integer NOT NULL,
    last_seen_on date NOT NULL,
    PRIMARY KEY (vehicle_id, kind, latitude, longitude)
);

-- Webhooks: alert changes POSTed to other systems, signed with the subscription's secret
-- (sealed at rest). Each change is queued in the transaction that makes it (an outbox), retried
-- with back-off, and kept as dead after the last attempt for someone to look at and retry.
CREATE TABLE webhooks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url           text NOT NULL CHECK (url ~ '^https?://'),
    secret_sealed bytea NOT NULL,
    -- Alerts of this region's subtree, at this severity or higher.
    region_id     bigint NOT NULL REFERENCES regions (id),
    min_severity  text NOT NULL DEFAULT 'medium' CHECK (min_severity IN ('info', 'low', 'medium', 'high', 'critical')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id   bigint NOT NULL REFERENCES webhooks (id),
    alert_id     bigint NOT NULL REFERENCES alerts (id),
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_status  integer,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- Each active contract's risk score (0–100) with the reasons that drove it, recomputed daily and
-- when an alert on its vehicle is raised; collection queues are ordered by it.
CREATE TABLE contract_risk (
    contract_id bigint PRIMARY KEY REFERENCES contracts (id),
    score       integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    band        text NOT NULL CHECK (band IN ('low', 'medium', 'high')),
    reasons     jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_risk_score ON contract_risk (score DESC);

-- Where the application says the customer lives (the address geocoded, WGS-84), to compare with
-- where the vehicle actually spends its nights.
ALTER TABLE customers
    ADD COLUMN home_latitude double precision CHECK (home_latitude BETWEEN -90 AND 90),
    ADD COLUMN home_longitude double precision CHECK (home_longitude BETWEEN -180 AND 180),
    ADD CONSTRAINT customers_home_both CHECK ((home_latitude IS NULL) = (home_longitude IS NULL));
