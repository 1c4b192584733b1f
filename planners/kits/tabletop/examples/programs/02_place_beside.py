# subgoal: put the pink cylinder 10 cm behind the purple block [behind(pink cylinder, purple block)]
x, y, z = get_pose("purple block")
pick("pink cylinder")
place_at(x + 0.10, y)
home()
checkpoint("pink cylinder behind purple block")
