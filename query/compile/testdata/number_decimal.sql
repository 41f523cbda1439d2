ifNull(attributes.`bp`.:Int64 <= {f0:Int64} OR attributes.`bp`.:UInt64 <= {f0:Int64} OR attributes.`bp`.:Float64 < {f1:Float64}, 0)
f0 = "180"
f1 = "180.5"
