-- What the monitor's rules have concluded per vehicle (its devices' fired flags, dwell at a risk
-- location, vehicle-level latches, nights away), written with the alerts they raise: a restart or a
-- shard moving to another monitor neither repeats an alert nor reopens one an operator resolved.
CREATE TABLE monitor_latches (
    vehicle_id bigint PRIMARY KEY REFERENCES vehicles (id) ON DELETE CASCADE,
    latches    jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
