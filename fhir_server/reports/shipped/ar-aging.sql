-- Open (issued, not yet balanced) invoices by age on :as_of, in the usual 30-day buckets.
WITH open_invoices AS (
  SELECT
    :as_of - CAST(substr(issued, 1, 10) AS DATE) AS days,
    CAST(coalesce(gross, net) AS DECIMAL(18, 2)) AS amount,
    currency
  FROM invoices
  WHERE status = 'issued' AND issued IS NOT NULL AND CAST(substr(issued, 1, 10) AS DATE) <= :as_of
)
SELECT
  CASE WHEN days <= 30 THEN '0-30' WHEN days <= 60 THEN '31-60' WHEN days <= 90 THEN '61-90' ELSE '90+' END AS age,
  coalesce(currency, '') AS currency,
  count(*) AS invoices,
  sum(amount) AS amount
FROM open_invoices
GROUP BY age, currency
ORDER BY min(days), currency
