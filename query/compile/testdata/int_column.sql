(patient_id = {f0:Int64} AND author_id >= {f1:Int64} AND organization_id < {f2:Int64})
f0 = "5"
f1 = "-9223372036854775808"
f2 = "9223372036854775807"
