-- Appointments per provider and day in the period, and the share of them the patient did not come to.
-- Cancelled and entered-in-error appointments are not counted as booked.
WITH visits AS (
  SELECT
    CAST(substr(a.start, 1, 10) AS DATE) AS day,
    coalesce(nullif(trim(concat_ws(' ', p.given, p.family)), ''), a.provider_display, a.provider, '-') AS provider,
    a.status
  FROM appointments a
  LEFT JOIN practitioners p ON p.id = a.provider
  WHERE a.start IS NOT NULL AND a.status NOT IN ('cancelled', 'entered-in-error')
)
SELECT
  day,
  provider,
  count(*) AS booked,
  count(*) FILTER (WHERE status = 'noshow') AS no_shows,
  round(100.0 * count(*) FILTER (WHERE status = 'noshow') / count(*), 1) AS no_show_percent
FROM visits
WHERE day BETWEEN :start AND :end
GROUP BY day, provider
ORDER BY day, provider
