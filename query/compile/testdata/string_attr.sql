(ifNull(attributes.`allergy`.:String = {f0:String}, 0) OR arrayExists(e -> ifNull(e = {f0:String}, 0), attributes.`allergy`.:`Array(Nullable(String))`))
f0 = "penicillin"
