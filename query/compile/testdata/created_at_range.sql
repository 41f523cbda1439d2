(1 AND created_at <= {f0:DateTime64(6, 'UTC')} AND NOT (created_at IN ({f1:DateTime64(6, 'UTC')})))
f0 = "9999-12-31 23:59:59.999999"
f1 = "2024-01-01 00:00:00.000000"
