-- Changes to a customer's particulars (客户信息变更), each asked for with a reason and carried out
-- only when a second person approves (workflow `customer_change`). The row keeps what was asked
-- and, once applied, what it replaced: the customer's history. A phone is kept sealed, with its
-- blind index, like the customer's own.
CREATE TABLE customer_changes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id       bigint NOT NULL REFERENCES customers (id),
    requested_by      bigint NOT NULL REFERENCES users (id),
    reason            text NOT NULL,
    address           text,
    employer          text,
    phone_sealed      bytea,
    phone_index       bytea,
    old_address       text,
    old_employer      text,
    old_phone_sealed  bytea,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'rejected')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz
);
CREATE INDEX customer_changes_customer ON customer_changes (customer_id, id);
