# subgoal: put the pink cylinder 10 cm behind the purple block [behind(pink cylinder, purple block)]
# step: place_at with object = pink cylinder, relative_to = purple block, dx = 0.1
x, y, z = get_pose("purple block")
pick("pink cylinder")
place_at(x + 0.10, y)
home()
checkpoint("pink cylinder behind purple block")
