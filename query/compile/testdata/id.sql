id = {f0:UUID}
f0 = "0b9e3c2a-5f7e-4d2a-9c1b-3e4f5a6b7c8d"
