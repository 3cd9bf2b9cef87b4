-- Who works each overdue contract (催收分案): one current assignment per contract, to a collection
-- group and one of its collectors, for the bucket it was given in. The morning distribution fills
-- it for newly overdue contracts and for those that moved to a bucket their group does not work;
-- a collector claims (认领) or a leader assigns (分配) by hand. A contract brought current is let go.
CREATE TABLE collection_assignments (
    contract_id     bigint PRIMARY KEY REFERENCES contracts (id),
    group_id        bigint NOT NULL REFERENCES collection_groups (id),
    collector_id    bigint REFERENCES users (id),
    bucket          integer NOT NULL,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    -- Who assigned it: none for the morning distribution.
    assigned_by     bigint REFERENCES users (id),
    follow_up_on    date
);
CREATE INDEX collection_assignments_collector ON collection_assignments (collector_id);
CREATE INDEX collection_assignments_group ON collection_assignments (group_id);
