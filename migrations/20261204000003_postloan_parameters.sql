-- Post-loan parameters (贷后参数配置): the codes a collector records a contract's collection with
-- (催收状态 states, 催收类别 categories), and the collection groups (催收组别) that work the overdue book,
-- each keeping the buckets and regions it works, with its members (催收组员).
CREATE TABLE collection_codes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('state', 'category')),
    code        text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    -- Retired codes stay for the records that carry them; they are no longer offered.
    active      boolean NOT NULL DEFAULT true,
    -- Where the code stands in lists.
    position    integer NOT NULL DEFAULT 0,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT collection_codes_unique UNIQUE (kind, code)
);

CREATE TABLE collection_groups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL CONSTRAINT collection_groups_code_unique UNIQUE,
    name        text NOT NULL,
    -- The region that keeps the group: who may see and change it.
    region_id   bigint NOT NULL REFERENCES regions (id),
    -- The delinquency buckets it works (1 = M1).
    buckets     integer[] NOT NULL DEFAULT '{}',
    -- The regions whose contracts it works, each with its subtree; none: its own region's.
    regions     bigint[] NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE collection_group_members (
    group_id    bigint NOT NULL REFERENCES collection_groups (id),
    user_id     bigint NOT NULL REFERENCES users (id),
    leader      boolean NOT NULL DEFAULT false,
    -- An absent collector stays in the group but gets no new work.
    active      boolean NOT NULL DEFAULT true,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX collection_group_members_user ON collection_group_members (user_id);
