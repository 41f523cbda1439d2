(ifNull(attributes.`note`.:String = {f0:String}, 0) OR ifNull(attributes.`note`.:String = {f1:String}, 0) OR ifNull(attributes.`note`.:String = {f2:String}, 0) OR ifNull(attributes.`note`.:String = {f3:String}, 0))
f0 = "it's"
f1 = "a\\\\b\\tc\\ndé\""
f2 = "'; DROP TABLE documents; --"
f3 = ""
