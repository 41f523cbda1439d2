(ifNull(attributes.`smoker`.:Bool = {f0:Bool}, 0) OR arrayExists(e -> ifNull(e = {f0:Bool}, 0), attributes.`smoker`.:`Array(Nullable(Bool))`))
f0 = "true"
