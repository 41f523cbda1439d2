organization_id IN ({f0:Int64}, {f1:Int64})
f0 = "1"
f1 = "-2"
