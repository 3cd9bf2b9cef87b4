-- Taking the car back and selling it (现场收车 / 车辆处置): repossession companies and orders, the live
-- location links of their agents, post-loan charges to a contract, and the disposal of a
-- recovered vehicle down to the allocation of its proceeds.

-- What a post-loan fee item charges the customer for; NULL for a fee of the product's schedule.
ALTER TABLE receivables ADD COLUMN charge text
    CHECK (charge IN ('collection', 'litigation', 'repossession', 'storage', 'valuation'));

-- Files kept by the SHA-256 of their content: one copy however often they are referenced.
CREATE TABLE attachments (
    sha256        bytea PRIMARY KEY,
    content_type  text NOT NULL,
    size          integer NOT NULL CHECK (size > 0),
    bytes         bytea NOT NULL,
    uploaded_by   bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Repossession companies (收车公司) and their fee schedule: a fixed fee plus a rate of the
-- financed amount, capped.
CREATE TABLE repossession_companies (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    licence            text NOT NULL,
    -- The region that keeps it (who sees and dispatches to it).
    region_id          bigint NOT NULL REFERENCES regions (id),
    served_region_ids  bigint[] NOT NULL,
    contact_name       text NOT NULL,
    contact_phone      text NOT NULL,
    fee_fixed          numeric(16,2) NOT NULL CHECK (fee_fixed >= 0),
    fee_rate           numeric(8,6) NOT NULL CHECK (fee_rate >= 0 AND fee_rate < 1),
    fee_cap            numeric(16,2) CHECK (fee_cap > 0),
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    version            integer NOT NULL DEFAULT 1
);

-- Repossession orders: from the monitor's proposal (its task) or by hand; one live per contract.
CREATE TABLE repossession_orders (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id          bigint NOT NULL REFERENCES contracts (id),
    vehicle_id           bigint NOT NULL REFERENCES vehicles (id),
    region_id            bigint NOT NULL REFERENCES regions (id),
    task_id              bigint REFERENCES risk_tasks (id),
    status               text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'dispatched', 'recovered', 'reviewed', 'cancelled')),
    -- The last trustworthy fix, the likely parking place and the hours the vehicle is there.
    evidence             jsonb NOT NULL DEFAULT '{}',
    note                 text,
    company_id           bigint REFERENCES repossession_companies (id),
    agent_name           text,
    agent_phone          text,
    dispatched_at        timestamptz,
    recovered_at         timestamptz,
    recovered_place      text,
    recovered_latitude   double precision,
    recovered_longitude  double precision,
    mileage_km           integer,
    condition            text,
    keys                 integer,
    belongings           text,
    yard                 text,
    storage_daily_fee    numeric(16,2),
    photos               bytea[] NOT NULL DEFAULT '{}',
    registered_by        bigint REFERENCES users (id),
    reviewed_by          bigint REFERENCES users (id),
    reviewed_at          timestamptz,
    review_note          text,
    created_by           bigint REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX repossession_orders_one_live ON repossession_orders (contract_id)
    WHERE status IN ('open', 'dispatched', 'recovered');
CREATE INDEX repossession_orders_region ON repossession_orders (region_id, id);

-- A link that shows an order's vehicle live to the company's agent, without an account; only the
-- token's hash is kept.
CREATE TABLE repossession_links (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES repossession_orders (id),
    token_sha256  bytea NOT NULL UNIQUE,
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX repossession_links_order ON repossession_links (order_id);

-- Post-loan charges (收车/诉讼/存储/评估费用申请): asked for, approved, then a fee item the customer
-- owes and a cost the company owes its payee.
CREATE TABLE postloan_charges (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id    bigint NOT NULL REFERENCES contracts (id),
    region_id      bigint NOT NULL REFERENCES regions (id),
    kind           text NOT NULL CHECK (kind IN ('collection', 'litigation', 'repossession', 'storage', 'valuation')),
    -- What it is for: a repossession order, a disposal...
    source_type    text NOT NULL,
    source_id      bigint NOT NULL,
    amount         numeric(16,2) NOT NULL CHECK (amount > 0),
    -- What the payee's schedule prices it at, when it has one.
    scheduled      numeric(16,2),
    payee          text NOT NULL,
    reason         text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by   bigint REFERENCES users (id),
    receivable_id  bigint REFERENCES receivables (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    decided_at     timestamptz
);
CREATE INDEX postloan_charges_contract ON postloan_charges (contract_id, id);
CREATE INDEX postloan_charges_source ON postloan_charges (source_type, source_id);

-- The disposal (车辆处置) of a recovered vehicle: held in a yard, valued, sold, its proceeds
-- allocated, a shortfall written off or pursued.
CREATE TABLE disposals (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id            bigint NOT NULL UNIQUE REFERENCES contracts (id),
    vehicle_id             bigint NOT NULL REFERENCES vehicles (id),
    region_id              bigint NOT NULL REFERENCES regions (id),
    order_id               bigint REFERENCES repossession_orders (id),
    status                 text NOT NULL DEFAULT 'held'
                           CHECK (status IN ('held', 'redeemed', 'sale_pending', 'sold', 'closed')),
    yard                   text NOT NULL,
    storage_daily_fee      numeric(16,2) NOT NULL CHECK (storage_daily_fee >= 0),
    stored_from            date NOT NULL,
    appraiser              text,
    valuation              numeric(16,2),
    valuation_note         text,
    valuation_status       text CHECK (valuation_status IN ('dispatched', 'submitted', 'approved', 'rejected')),
    valued_by              bigint REFERENCES users (id),
    valuation_reviewed_by  bigint REFERENCES users (id),
    sale_method            text CHECK (sale_method IN ('auction', 'dealer_buyback')),
    sale_price             numeric(16,2),
    buyer                  text,
    sold_on                date,
    -- How the proceeds went: costs, fees, arrears, principal, refund.
    proceeds               jsonb,
    shortfall              numeric(16,2),
    -- write_off (through approval) or pursue.
    shortfall_action       text CHECK (shortfall_action IN ('write_off', 'pursue')),
    closed_on              date,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    version                integer NOT NULL DEFAULT 1
);
CREATE INDEX disposals_region ON disposals (region_id, id);

-- What was said with the customer about the recovered vehicle: redeem, settle or sell.
CREATE TABLE disposal_notes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    disposal_id  bigint NOT NULL REFERENCES disposals (id),
    user_id      bigint NOT NULL REFERENCES users (id),
    intent       text NOT NULL CHECK (intent IN ('redeem', 'settle', 'sell', 'other')),
    note         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disposal_notes_disposal ON disposal_notes (disposal_id, id);
