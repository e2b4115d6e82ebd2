// placeholder for the label kernel (TS twin + native dispatch)
export {};
