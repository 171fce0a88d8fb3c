-- Immunizations recorded in the period by vaccine: given, not given, and how many patients received one.
SELECT
  coalesce(vaccine_display, vaccine_text, '-') AS vaccine,
  count(*) FILTER (WHERE status = 'completed') AS completed,
  count(*) FILTER (WHERE status = 'not-done') AS not_done,
  count(DISTINCT patient) FILTER (WHERE status = 'completed') AS patients,
  max(substr(occurred, 1, 10)) FILTER (WHERE status = 'completed') AS last_given
FROM immunizations
WHERE occurred IS NOT NULL
  AND status <> 'entered-in-error'
  AND CAST(substr(occurred, 1, 10) AS DATE) BETWEEN :start AND :end
GROUP BY vaccine
ORDER BY completed DESC, vaccine
