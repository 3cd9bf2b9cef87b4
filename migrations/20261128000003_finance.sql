-- The leasing finance core: customers, vehicles, products, contracts and their receivable items,
-- receipts and their allocation, the double-entry ledger, and the delinquency state the daily job
-- keeps. Money is numeric(16,2); dates that are business dates (due dates) are `date`.

CREATE TABLE customers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('individual', 'company')),
    name            text NOT NULL,
    -- National ID or unified social credit code, sealed; its HMAC finds a customer by number.
    id_number_sealed bytea,
    id_number_index bytea UNIQUE,
    phone_sealed    bytea,
    address         text,
    employer        text,
    region_id       bigint NOT NULL REFERENCES regions (id),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vehicles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vin         text NOT NULL UNIQUE,
    plate       text,
    brand       text,
    model       text,
    colour      text,
    status      text NOT NULL DEFAULT 'in_stock'
                CHECK (status IN ('in_stock', 'financed', 'repossessed', 'disposed', 'released')),
    region_id   bigint NOT NULL REFERENCES regions (id),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE devices ADD CONSTRAINT devices_vehicle FOREIGN KEY (vehicle_id) REFERENCES vehicles (id);

-- A product version (产品方案); a contract keeps the version it was signed on.
CREATE TABLE products (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                text NOT NULL,
    version             integer NOT NULL,
    name                text NOT NULL,
    -- Method, timing, rate table, fees, deposit ratio, penalty rule, allocation order,
    -- settlement fee rule, rounding and buckets, validated in code.
    rules               jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (code, version)
);

CREATE TABLE contracts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    customer_id     bigint REFERENCES customers (id),
    vehicle_id      bigint REFERENCES vehicles (id),
    product_id      bigint REFERENCES products (id),
    region_id       bigint NOT NULL REFERENCES regions (id),
    -- The terms the schedule was made from.
    terms           jsonb NOT NULL,
    principal       numeric(16,2) NOT NULL,
    start_date      date NOT NULL,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('pending', 'active', 'settled', 'closed')),
    -- Money held for the customer: overpayments (applied at the next due date) and the deposit.
    credit          numeric(16,2) NOT NULL DEFAULT 0,
    deposit_held    numeric(16,2) NOT NULL DEFAULT 0,
    -- Delinquency, kept by the daily job as of `as_of`.
    as_of           date,
    dpd             integer NOT NULL DEFAULT 0,
    bucket          integer NOT NULL DEFAULT 0,
    overdue_amount  numeric(16,2) NOT NULL DEFAULT 0,
    penalty_open    numeric(16,2) NOT NULL DEFAULT 0,
    last_payment_on date,
    next_due_date   date,
    -- A promise to pay or a pause holds the bucket (not the accrual) until this date.
    hold_until      date,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_vehicle ON contracts (vehicle_id);
CREATE INDEX contracts_active ON contracts (id) WHERE status = 'active';

-- What a contract owes: one row per period and component (principal, interest, fee), plus
-- penalty rows the daily job accrues.
CREATE TABLE receivables (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id bigint NOT NULL REFERENCES contracts (id),
    period      integer NOT NULL,
    due_date    date NOT NULL,
    component   text NOT NULL CHECK (component IN ('penalty', 'fee', 'interest', 'principal')),
    amount      numeric(16,2) NOT NULL CHECK (amount >= 0),
    paid        numeric(16,2) NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= amount),
    UNIQUE (contract_id, period, component, due_date)
);
-- Open items by due date: what the daily job and write-off read.
CREATE INDEX receivables_open ON receivables (contract_id, due_date) WHERE paid < amount;

CREATE TABLE receiving_accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    bank        text NOT NULL,
    name        text NOT NULL
);

-- Money received from a bank statement or registered by hand; claimed (认领) to a contract and
-- written off (核销) against its items.
CREATE TABLE receipts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES receiving_accounts (id),
    -- The bank's reference: a statement imported twice does not count twice.
    bank_reference  text NOT NULL,
    received_on     date NOT NULL,
    amount          numeric(16,2) NOT NULL CHECK (amount > 0),
    payer           text,
    remark          text,
    contract_id     bigint REFERENCES contracts (id),
    status          text NOT NULL DEFAULT 'unclaimed'
                    CHECK (status IN ('unclaimed', 'claimed', 'written_off', 'reversed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, bank_reference)
);
CREATE INDEX receipts_contract ON receipts (contract_id);

CREATE TABLE allocations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receipt_id      bigint REFERENCES receipts (id),
    receivable_id   bigint NOT NULL REFERENCES receivables (id),
    amount          numeric(16,2) NOT NULL,
    -- From a receipt, or from customer credit (receipt_id NULL).
    source          text NOT NULL CHECK (source IN ('receipt', 'credit', 'deposit', 'reversal')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocations_receipt ON allocations (receipt_id);

-- The ledger: every money movement is one transaction of entries whose debits equal its credits.
CREATE TABLE ledger_transactions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    contract_id bigint REFERENCES contracts (id),
    receipt_id  bigint REFERENCES receipts (id),
    booked_on   date NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_contract ON ledger_transactions (contract_id);

CREATE TABLE ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  bigint NOT NULL REFERENCES ledger_transactions (id),
    account         text NOT NULL,
    debit           numeric(16,2) NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit          numeric(16,2) NOT NULL DEFAULT 0 CHECK (credit >= 0)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);

-- A transaction whose entries do not balance is refused at commit.
CREATE FUNCTION leasewatch_ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    difference numeric;
BEGIN
    SELECT COALESCE(sum(debit) - sum(credit), 0) INTO difference
    FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
    IF difference <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (debits - credits = %)', NEW.transaction_id, difference
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT OR UPDATE ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION leasewatch_ledger_balanced();

-- Daily delinquency history and the events of bucket changes.
CREATE TABLE delinquency_history (
    contract_id     bigint NOT NULL REFERENCES contracts (id),
    as_of           date NOT NULL,
    dpd             integer NOT NULL,
    bucket          integer NOT NULL,
    overdue_amount  numeric(16,2) NOT NULL,
    penalty         numeric(16,2) NOT NULL,
    PRIMARY KEY (contract_id, as_of)
);

CREATE TABLE contract_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id bigint NOT NULL REFERENCES contracts (id),
    as_of       date NOT NULL,
    kind        text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_events_contract ON contract_events (contract_id, id);

-- The day the delinquency job last completed, so that a missed day is caught up.
CREATE TABLE finance_jobs (
    name        text PRIMARY KEY,
    done_through date NOT NULL
);

CREATE INDEX receivables_open_due ON receivables (due_date) WHERE paid < amount;

-- Payment status, the read model the monitor and collectors use: per contract, and per device
-- through the vehicle it is installed in.
CREATE VIEW payment_status AS
SELECT c.id AS contract_id, c.number, c.vehicle_id, c.region_id, c.status, c.as_of, c.dpd, c.bucket,
       c.overdue_amount, c.penalty_open, c.credit, c.last_payment_on, c.hold_until AS promise_until,
       n.next_due_date, n.next_due_amount
FROM contracts c
LEFT JOIN LATERAL (
    SELECT r.due_date AS next_due_date, sum(r.amount - r.paid) AS next_due_amount
    FROM receivables r
    WHERE r.contract_id = c.id AND r.paid < r.amount AND r.component <> 'penalty'
      AND r.due_date > COALESCE(c.as_of, CURRENT_DATE)
    GROUP BY r.due_date ORDER BY r.due_date LIMIT 1
) n ON true;

CREATE VIEW device_payment_status AS
SELECT d.id AS device_id, d.imei, s.*
FROM devices d JOIN payment_status s ON s.vehicle_id = d.vehicle_id AND s.status = 'active';
