# subgoal: push the orange block 6 cm to the left [moved(orange block, min=0.05, direction=left)]
# step: push with object = orange block, dy = 0.06
push("orange block", 0.0, 0.06)
home()
checkpoint("orange block pushed left")
