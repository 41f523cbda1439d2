(ifNull(attributes.`panels`.:String = {f0:String}, 0) OR arrayExists(e -> ifNull(e = {f0:String}, 0), attributes.`panels`.:`Array(Nullable(String))`))
f0 = "CMP"
