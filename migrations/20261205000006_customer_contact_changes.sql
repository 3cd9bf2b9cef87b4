-- A change to a customer's particulars may also set one of the people around them (an emergency
-- contact or a contact): by role and name, with relation and phone; once applied, the change keeps
-- what that person's entry held before (none when the person is new).
ALTER TABLE customer_changes
    ADD COLUMN contact_role           text CHECK (contact_role IN ('emergency_contact', 'contact', 'guarantor')),
    ADD COLUMN contact_name           text,
    ADD COLUMN contact_relation       text,
    ADD COLUMN contact_phone_sealed   bytea,
    ADD COLUMN old_contact_relation   text,
    ADD COLUMN old_contact_phone_sealed bytea;
