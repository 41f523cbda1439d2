ifNull(attributes.`select`.:String = {f0:String}, 0)
f0 = "x"
