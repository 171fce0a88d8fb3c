-- A registry count: how many patients have each condition active now (refuted and entered-in-error left out).
SELECT
  coalesce(display, text, code, '-') AS condition,
  code,
  count(DISTINCT patient) AS patients
FROM conditions
WHERE clinical_status IN ('active', 'recurrence', 'relapse')
  AND coalesce(verification, '') NOT IN ('refuted', 'entered-in-error')
  AND patient IS NOT NULL
GROUP BY condition, code
ORDER BY patients DESC, condition
LIMIT 100
