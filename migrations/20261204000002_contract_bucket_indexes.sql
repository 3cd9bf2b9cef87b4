-- Collectors list one bucket sorted by days past due or by the amount overdue, and page on with the
-- keyset: with the bucket first in the index, a page (even the last, empty one) reads only that
-- bucket instead of walking the whole book in sort order. The region is carried in the index so
-- that counting a bucket within the reader's regions reads the index alone. The bucket-only index
-- is their prefix.
DROP INDEX contracts_bucket;
CREATE INDEX contracts_bucket_dpd ON contracts (bucket, dpd, id) INCLUDE (region_id);
CREATE INDEX contracts_bucket_overdue ON contracts (bucket, overdue_amount, id) INCLUDE (region_id);
