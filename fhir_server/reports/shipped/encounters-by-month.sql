-- Encounters that started in the period, by month and type (the type's display, else its text, else the class).
SELECT
  substr(start, 1, 7) AS month,
  coalesce(type_display, type_text, class_code, '-') AS type,
  count(*) AS encounters
FROM encounters
WHERE start IS NOT NULL
  AND status NOT IN ('cancelled', 'entered-in-error')
  AND CAST(substr(start, 1, 10) AS DATE) BETWEEN :start AND :end
GROUP BY month, type
ORDER BY month, encounters DESC, type
