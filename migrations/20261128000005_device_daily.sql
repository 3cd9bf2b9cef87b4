-- Daily distance and online time per device. Distance is the sum of great-circle segments between
-- consecutive valid fixes, which needs each fix's predecessor: a window, which TimescaleDB's
-- continuous aggregates cannot compute. So both storage modes keep this table the same way, by a
-- function the daemon runs hourly over the recent days, and the same queries serve both.

CREATE TABLE device_daily (
    device_id       bigint NOT NULL,
    day             date NOT NULL,
    positions       integer NOT NULL,
    distance_m      double precision NOT NULL,
    -- Time between consecutive fixes at most 10 minutes apart: the device was reporting.
    online_seconds  integer NOT NULL,
    first_fix       timestamptz NOT NULL,
    last_fix        timestamptz NOT NULL,
    PRIMARY KEY (device_id, day)
);

-- Recomputes the days [first, last] (UTC) from positions; returns the rows written.
CREATE FUNCTION leasewatch_refresh_daily(first date, last date) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    written integer;
BEGIN
    DELETE FROM device_daily WHERE day BETWEEN first AND last;
    INSERT INTO device_daily (device_id, day, positions, distance_m, online_seconds, first_fix, last_fix)
    SELECT device_id, day, count(*),
           COALESCE(sum(segment_m), 0),
           COALESCE(sum(gap_s) FILTER (WHERE gap_s <= 600), 0)::integer,
           min(fix_time), max(fix_time)
    FROM (
        SELECT device_id, fix_time, (fix_time AT TIME ZONE 'UTC')::date AS day,
               extract(epoch FROM fix_time - lag(fix_time) OVER w) AS gap_s,
               2 * 6371008.8 * asin(sqrt(
                   power(sin(radians(latitude - lag(latitude) OVER w) / 2), 2)
                   + cos(radians(lag(latitude) OVER w)) * cos(radians(latitude))
                     * power(sin(radians(longitude - lag(longitude) OVER w) / 2), 2))) AS segment_m
        FROM positions
        WHERE valid AND fix_time >= first::timestamp AT TIME ZONE 'UTC'
              AND fix_time < (last + 1)::timestamp AT TIME ZONE 'UTC'
        WINDOW w AS (PARTITION BY device_id, (fix_time AT TIME ZONE 'UTC')::date ORDER BY fix_time)
    ) s
    GROUP BY device_id, day;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
