# subgoal: move the teal cup out of the way [at(teal cup, tolerance=0.05, x=0.48, y=-0.16)]
# step: place_at with object = teal cup, x = 0.48, y = -0.16
pick("teal cup")
place_at(0.48, -0.16)
home()
checkpoint("teal cup at (0.48, -0.16)")
