# subgoal: put the yellow block in the white bowl [inside(yellow block, white bowl)]
# step: place_on with object = yellow block, target = white bowl
pick("yellow block")
place_on("white bowl")
home()
checkpoint("yellow block in white bowl")
