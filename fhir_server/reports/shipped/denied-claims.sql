-- Claim responses in the period that refused the claim: outcome "error", or an item adjudicated "denied".
SELECT
  coalesce(error_display, error_code, disposition, '-') AS reason,
  count(*) AS claims,
  min(substr(created, 1, 10)) AS first_seen,
  max(substr(created, 1, 10)) AS last_seen
FROM responses
WHERE status <> 'entered-in-error'
  AND (outcome = 'error' OR denied_items)
  AND created IS NOT NULL
  AND CAST(substr(created, 1, 10) AS DATE) BETWEEN :start AND :end
GROUP BY reason
ORDER BY claims DESC, reason
