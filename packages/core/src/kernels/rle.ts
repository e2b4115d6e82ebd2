// placeholder for the rle kernel (TS twin + native dispatch)
export {};
