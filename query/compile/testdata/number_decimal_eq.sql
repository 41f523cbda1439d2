(ifNull(attributes.`value`.:Float64 = {f0:Float64}, 0) OR arrayExists(e -> ifNull(e = {f0:Float64}, 0), attributes.`value`.:`Array(Nullable(Float64))`) OR arrayExists(e -> ifNull(dynamicElement(e, 'Float64') = {f0:Float64}, 0), attributes.`value`.:`Array(Dynamic)`))
f0 = "5.40"
