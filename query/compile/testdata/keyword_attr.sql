(ifNull(attributes.`select`.:String = {f0:String}, 0) OR arrayExists(e -> ifNull(e = {f0:String}, 0), attributes.`select`.:`Array(Nullable(String))`))
f0 = "x"
