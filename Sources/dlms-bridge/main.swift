print("dlms-bridge: placeholder")
