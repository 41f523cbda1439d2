(ifNull(startsWith(attributes.`panels`.:String, {f0:String}), 0) OR arrayExists(e -> ifNull(startsWith(e, {f0:String}), 0), attributes.`panels`.:`Array(Nullable(String))`))
f0 = "C"
