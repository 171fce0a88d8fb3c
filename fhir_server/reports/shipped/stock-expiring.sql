-- Medication batches (Medication.batch) that expire on or before :until, soonest first.
-- To revisit with the stock workflow's data model: quantities on hand and reorder points are not
-- plain R4 Medication fields, so "below reorder point" is not in this report yet.
SELECT
  coalesce(drug_display, drug_text, '-') AS drug,
  lot,
  CAST(substr(expires, 1, 10) AS DATE) AS expires,
  CAST(substr(expires, 1, 10) AS DATE) - current_date AS days_left,
  1 AS batches
FROM batches
WHERE expires IS NOT NULL
  AND coalesce(status, 'active') = 'active'
  AND CAST(substr(expires, 1, 10) AS DATE) <= :until
ORDER BY expires, drug, lot
