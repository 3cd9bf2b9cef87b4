-- Telemetry: devices, positions, device events, the latest state per device, and the quarantine
-- for frames from devices nobody registered.
--
-- positions and device_events are time-series tables. Where the timescaledb extension can be
-- installed they become hypertables (compression and retention are set by the daemon from its
-- configuration); on plain PostgreSQL they are range-partitioned by day, the daemon creates the
-- partitions ahead of time, and a DEFAULT partition keeps rows whose time falls outside them
-- (devices with unset clocks report 2004 or 2080). Queries are the same on both.

CREATE TABLE devices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- IMEI, or the JT/T 808 terminal phone number, exactly as the device identifies itself.
    imei        text NOT NULL UNIQUE CHECK (imei ~ '^[0-9A-Za-z]{1,24}$'),
    protocol    text NOT NULL CHECK (protocol IN ('gt06', 'jt808', 'teltonika', 'h02', 'mqtt')),
    model       text,
    sim         text,
    kind        text NOT NULL DEFAULT 'wired' CHECK (kind IN ('wired', 'wireless')),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- The vehicle it is installed in; the vehicles table arrives with the finance core.
    vehicle_id  bigint,
    last_seen   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The time-series tables are created in a DO block: hypertables where TimescaleDB can be
-- installed, day-partitioned tables (plus a DEFAULT partition) where it cannot.
DO $migration$
DECLARE
    timescale boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb');
BEGIN
    IF timescale THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    END IF;

    EXECUTE $ddl$
    CREATE TABLE positions (
        device_id     bigint NOT NULL,
        fix_time      timestamptz NOT NULL,
        server_time   timestamptz NOT NULL,
        latitude      double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
        longitude     double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
        speed_kmh     real NOT NULL,
        course        real NOT NULL,
        altitude      real,
        satellites    smallint,
        valid         boolean NOT NULL,
        ignition      boolean,
        power_voltage real,
        battery       smallint,
        odometer_m    bigint,
        -- Bit n set: leasewatch_protocols::Alarm::ALL[n].
        alarms        integer NOT NULL DEFAULT 0,
        attributes    jsonb NOT NULL DEFAULT '{}',
        -- A resent position has the same fix time: it is stored once.
        PRIMARY KEY (device_id, fix_time)
    )$ddl$ || CASE WHEN timescale THEN '' ELSE ' PARTITION BY RANGE (fix_time)' END;

    EXECUTE $ddl$
    CREATE TABLE device_events (
        device_id   bigint NOT NULL,
        time        timestamptz NOT NULL,
        -- login, logout, alarm, command_reply, online, offline...
        kind        text NOT NULL,
        server_time timestamptz NOT NULL,
        alarms      integer NOT NULL DEFAULT 0,
        attributes  jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (device_id, time, kind)
    )$ddl$ || CASE WHEN timescale THEN '' ELSE ' PARTITION BY RANGE (time)' END;

    IF timescale THEN
        PERFORM create_hypertable('positions', 'fix_time', chunk_time_interval => INTERVAL '1 day');
        PERFORM create_hypertable('device_events', 'time', chunk_time_interval => INTERVAL '7 days');
        ALTER TABLE positions SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                                   timescaledb.compress_orderby = 'fix_time DESC');
        ALTER TABLE device_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                                       timescaledb.compress_orderby = 'time DESC');
    ELSE
        CREATE TABLE positions_default PARTITION OF positions DEFAULT;
        CREATE TABLE device_events_default PARTITION OF device_events DEFAULT;
    END IF;
END
$migration$;

-- The latest fix and status of each device, kept by the writer.
CREATE TABLE device_state (
    device_id     bigint PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    fix_time      timestamptz NOT NULL,
    server_time   timestamptz NOT NULL,
    latitude      double precision NOT NULL,
    longitude     double precision NOT NULL,
    speed_kmh     real NOT NULL,
    course        real NOT NULL,
    valid         boolean NOT NULL,
    ignition      boolean,
    power_voltage real,
    battery       smallint,
    alarms        integer NOT NULL DEFAULT 0
);

-- Frames from unregistered devices, kept whole so that promoting the device can replay them.
CREATE TABLE quarantine (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    protocol    text NOT NULL,
    imei        text,
    received_at timestamptz NOT NULL,
    peer        text,
    frame       bytea NOT NULL,
    -- The decoded messages, for people looking at the quarantine.
    decoded     jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX quarantine_imei ON quarantine (imei, received_at);

-- Creates the daily partitions of positions and device_events for [first, last] (plain PostgreSQL);
-- a no-op on hypertables. Days whose rows already sit in the DEFAULT partition are moved over.
CREATE FUNCTION leasewatch_ensure_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date := first;
    parent text;
    name text;
    created integer := 0;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'positions'::regclass) <> 'p' THEN
        RETURN 0;
    END IF;
    WHILE day <= last LOOP
        FOREACH parent IN ARRAY ARRAY['positions', 'device_events'] LOOP
            name := format('%s_%s', parent, to_char(day, 'YYYYMMDD'));
            IF to_regclass(name) IS NULL THEN
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
                EXECUTE format(
                    'WITH moved AS (DELETE FROM %I_default WHERE %I >= %L AND %I < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                    parent, CASE parent WHEN 'positions' THEN 'fix_time' ELSE 'time' END, day,
                    CASE parent WHEN 'positions' THEN 'fix_time' ELSE 'time' END, day + 1, name);
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                    parent, name, day::timestamptz, (day + 1)::timestamptz);
                created := created + 1;
            END IF;
        END LOOP;
        day := day + 1;
    END LOOP;
    RETURN created;
END
$$;

-- Drops daily partitions that end before `keep_from` (retention on plain PostgreSQL).
CREATE FUNCTION leasewatch_drop_partitions(keep_from date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('positions', 'device_events')
          AND c.relname ~ '_[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < keep_from
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;
