(NOT (status = {f0:String}) AND ((ifNull(attributes.`icd10`.:String = {f1:String}, 0) OR arrayExists(e -> ifNull(e = {f1:String}, 0), attributes.`icd10`.:`Array(Nullable(String))`)) OR (ifNull(startsWith(attributes.`icd10`.:String, {f2:String}), 0) OR arrayExists(e -> ifNull(startsWith(e, {f2:String}), 0), attributes.`icd10`.:`Array(Nullable(String))`))))
f0 = "cancelled"
f1 = "I21.0"
f2 = "I20"
