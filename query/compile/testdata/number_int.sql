ifNull(attributes.`bp`.:Int64 > {f0:Int64} OR attributes.`bp`.:UInt64 > {f0:Int64} OR attributes.`bp`.:Float64 > {f0:Int64}, 0)
f0 = "180"
