((ifNull(attributes.`note`.:String = {f0:String}, 0) OR arrayExists(e -> ifNull(e = {f0:String}, 0), attributes.`note`.:`Array(Nullable(String))`)) OR (ifNull(attributes.`note`.:String = {f1:String}, 0) OR arrayExists(e -> ifNull(e = {f1:String}, 0), attributes.`note`.:`Array(Nullable(String))`)) OR (ifNull(attributes.`note`.:String = {f2:String}, 0) OR arrayExists(e -> ifNull(e = {f2:String}, 0), attributes.`note`.:`Array(Nullable(String))`)) OR (ifNull(attributes.`note`.:String = {f3:String}, 0) OR arrayExists(e -> ifNull(e = {f3:String}, 0), attributes.`note`.:`Array(Nullable(String))`)))
f0 = "it's"
f1 = "a\\\\b\\tc\\ndé\""
f2 = "'; DROP TABLE documents; --"
f3 = ""
